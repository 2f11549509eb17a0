"""The sample microservices of gatemesh.

Plain aiohttp apps that import nothing of gatemesh's (like any app in a mesh); the
little they share lives in `services.kit`, their own small library. See README.md.
"""
