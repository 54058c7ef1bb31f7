"""Lets ``python -m controller`` run the same CLI as the ``descope-gitops`` script."""

from controller.cli import run

run()
