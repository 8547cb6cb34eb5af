"""The ExoSim generator's ADC (benchmarks/exosim, run in its own environment): reads past full
scale are clipped as FORMAT.md's encoder does, never wrapped modulo 65536 as ExoSim 2.0.1's own
16-bit ADC does (which made the brightest stars' transits look 1.5-2.5x too deep)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

EXOSIM = Path(__file__).resolve().parents[1] / "benchmarks" / "exosim"


@pytest.fixture(scope="module")
def generate():
    # Only numpy is needed at import time (ExoSim itself is imported inside run_exosim).
    sys.path.insert(0, str(EXOSIM))
    try:
        spec = importlib.util.spec_from_file_location("exosim_generate", EXOSIM / "generate.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(EXOSIM))


def test_reads_past_full_scale_are_clipped_not_wrapped(generate):
    # What ExoSim's ADC at 32 bits hands over: floor((counts - offset) * gain) as uint32; a
    # negative analogue value wraps to above 2^31 in that cast.
    digital = np.array([[0, 1234, 65535, 65536, 3 * 65536 + 7, 2**32 - 5]], dtype=np.uint32)
    raw = generate.adc_encode(digital, "AIRS-CH0", "planet 1")
    assert raw.dtype == np.uint16
    assert raw.tolist() == [[0, 1234, 65535, 65535, 65535, 0]]
    # 16-bit ExoSim reads have already wrapped: refused, naming planet and channel.
    with pytest.raises(TypeError, match="planet 1 AIRS-CH0: expected 32-bit"):
        generate.adc_encode(digital.astype(np.uint16), "AIRS-CH0", "planet 1")


def test_the_exosim_configuration_runs_its_adc_at_32_bits(generate, tmp_path):
    import re

    import instrument

    clocks = {"ground": 1, "first": 1, "reset": 1, "groups": 45}
    for name, kind in ((instrument.AIRS_NAME, "spectrometer"), (instrument.FGS_NAME, "photometer")):
        xml = instrument._channel_xml(name, kind, tmp_path, clocks)
        assert re.search(r"<ADC_num_bit>\s*32\s*</ADC_num_bit>", xml), name
