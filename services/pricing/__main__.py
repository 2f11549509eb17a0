from services.kit import run_service
from services.pricing.app import SERVICE, make_app

if __name__ == "__main__":
    run_service(SERVICE, lambda options: make_app(options.instance))
