"""reviews — deterministic customer reviews for every product id.

    GET /reviews/{id}  → {"product_id","rating","reviews":[{"author","stars","text"}],"instance"};
                         404 for id < 1, 400 not an integer

An id has 0..3 reviews (id % 4); ``rating`` is their mean star count, or null for none.
"""

from __future__ import annotations

from aiohttp import web

from services.kit import ServiceError, path_int, reply, service_app

SERVICE = "reviews"

AUTHORS = ("Ada", "Grace", "Linus", "Barbara", "Ken", "Margaret", "Dennis")
TEXTS = {
    1: "Broke on the first trip.",
    2: "Does the job, barely.",
    3: "Fine for the price.",
    4: "Very good, would buy again.",
    5: "Excellent, the best I have owned.",
}


def reviews_of(product_id: int) -> list[dict]:
    reviews = []
    for i in range(product_id % 4):
        stars = 1 + (product_id * 3 + i * 2) % 5
        author = AUTHORS[(product_id + i) % len(AUTHORS)]
        reviews.append({"author": author, "stars": stars, "text": TEXTS[stars]})
    return reviews


async def get_reviews(request: web.Request) -> web.Response:
    product_id = path_int(request)
    if product_id < 1:
        raise ServiceError(404, f"no reviews for product {product_id}: product ids start at 1")
    reviews = reviews_of(product_id)
    rating = round(sum(r["stars"] for r in reviews) / len(reviews), 1) if reviews else None
    return reply(request, {"product_id": product_id, "rating": rating, "reviews": reviews})


def make_app(instance: str) -> web.Application:
    app = service_app(SERVICE, instance)
    app.router.add_get("/reviews/{id}", get_reviews)
    return app
