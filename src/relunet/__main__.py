import sys

from relunet.cli import main

sys.exit(main())
