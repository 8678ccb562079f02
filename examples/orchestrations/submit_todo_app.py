"""Submit the todo app example (`todo-app.yaml`) and print its outcome; see `submit.py`.

::

    IDEAMINE_TOKEN=$JWT venv/bin/python examples/orchestrations/submit_todo_app.py [--server HOST:PORT]
"""

import sys
from pathlib import Path

from submit import main

if __name__ == "__main__":
    sys.exit(main(run_file=str(Path(__file__).with_name("todo-app.yaml"))))
