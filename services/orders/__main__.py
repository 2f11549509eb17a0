from services.kit import run_service
from services.orders.app import SERVICE, make_app

if __name__ == "__main__":
    run_service(SERVICE, lambda options: make_app(options.instance, options.db or ""), db_required=True)
