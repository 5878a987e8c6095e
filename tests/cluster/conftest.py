"""The fleet tests' fixtures; the parts themselves are in fleetlab.py (imported by plain name), and the RabbitMQ
node in rabbitlab.py."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # fleetlab.py, imported by plain name

from fleetlab import fleet, fqdn_helo, redis_server
from rabbitlab import rabbitmq_server

__all__ = ["fleet", "fqdn_helo", "rabbitmq_server", "redis_server"]
