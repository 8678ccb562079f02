"""Submit the healthcare platform example (`healthcare-platform.yaml`) and print its outcome; see `submit.py`.

::

    IDEAMINE_TOKEN=$JWT venv/bin/python examples/orchestrations/submit_healthcare_platform.py [--server HOST:PORT]
"""

import sys
from pathlib import Path

from submit import main

if __name__ == "__main__":
    sys.exit(main(run_file=str(Path(__file__).with_name("healthcare-platform.yaml"))))
