import sys

from flowmesh.cli import main

sys.exit(main())
