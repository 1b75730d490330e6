import sys

from mimeia.cli import main

sys.exit(main())
