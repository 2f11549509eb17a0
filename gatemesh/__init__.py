"""gatemesh: resilience patterns at the API gateway and in the service mesh."""
