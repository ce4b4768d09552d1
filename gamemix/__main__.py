"""Allow `python -m gamemix`."""

from gamemix.cli import main

raise SystemExit(main())
