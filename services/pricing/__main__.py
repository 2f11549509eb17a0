from services.pricing.app import SERVICE, make_app
from services.kit import run_service

if __name__ == "__main__":
    run_service(SERVICE, lambda options: make_app(options.instance))
