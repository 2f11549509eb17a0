"""The services' own small library (not gatemesh's): what every sample service needs.

service_app(service, instance)   an aiohttp app with /health, /admin/*, JSON errors,
                                 X-Instance, request stats and the misbehave knob
reply / ServiceError / read_json / path_int    JSON in and out
Deadline                          X-Gatemesh-Deadline-Ms, read and passed on
run_service(service, build_app)   the process: CLI, uvloop, registration, SIGTERM
"""

from services.kit.app import INSTANCE_HEADER, MISBEHAVIOUR, STATS, service_app
from services.kit.cli import Options
from services.kit.deadline import DEADLINE_HEADER, Deadline
from services.kit.http import INFO, MAX_BODY_BYTES, ServiceError, error_response, path_int, read_json, reply
from services.kit.serve import StartupError, run_service

__all__ = [
    "DEADLINE_HEADER",
    "INFO",
    "INSTANCE_HEADER",
    "MAX_BODY_BYTES",
    "MISBEHAVIOUR",
    "STATS",
    "Deadline",
    "Options",
    "ServiceError",
    "StartupError",
    "error_response",
    "path_int",
    "read_json",
    "reply",
    "run_service",
    "service_app",
]
