from spectramind.cli import main

raise SystemExit(main())
