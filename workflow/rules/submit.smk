# Predictions -> validated submission.csv, and the validation score of the held-out planets.


rule submit:
    input:
        predictions="artifacts/preds/test.npz",
        sample_submission=get_sample_submission,
        schema=get_submission_schema,
    output:
        "artifacts/submission/submission.csv",
    log:
        "logs/submit/submit.log",
    benchmark:
        "artifacts/benchmarks/submit/submit.tsv"
    conda:
        "../../envs/submit.yaml"
    params:
        wildcards=get_wildcards_json,
    shell:
        "spectramind run-stage --stage submit --rule submit --threads {threads} --log {log:q}"
        " --wildcards {params.wildcards:q} --input {input:q} --output {output:q} -- "
        "spectramind submit --predictions {input.predictions:q}"
        " --sample-submission {input.sample_submission:q} --out {output:q}"


rule score:
    input:
        predictions="artifacts/preds/holdout.npz",
        labels=get_labels,
    output:
        "artifacts/metrics/score.json",
    log:
        "logs/score/score.log",
    benchmark:
        "artifacts/benchmarks/score/score.tsv"
    conda:
        "../../envs/submit.yaml"
    params:
        wildcards=get_wildcards_json,
    shell:
        "spectramind run-stage --stage score --rule score --threads {threads} --log {log:q}"
        " --wildcards {params.wildcards:q} --input {input:q} --output {output:q} -- "
        "spectramind score --predictions {input.predictions:q} --truth {input.labels:q}"
        " --train {input.labels:q} --json {output:q}"
