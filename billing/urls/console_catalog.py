"""console_catalog pages of the billing app (a plain pattern list, merged by msp_program): the
catalog (products, meters, price plans) and clients' subscriptions as the vendor sees them.

The catalog's names start with `catalog` so the sidebar's "Catalog & billing" entry stays
current on every catalog page; the client pages' with `client` (the "Clients" entry)."""

from django.urls import path

from billing.views import console_catalog as catalog
from billing.views import console_catalog_plans as plans
from billing.views import subscriptions

urlpatterns: list = [
    path("catalog/", catalog.catalog, name="catalog"),
    path("catalog/products/", catalog.products, name="catalog_products"),
    path("catalog/products/new/", catalog.product_create_view, name="catalog_product_create"),
    path("catalog/products/<int:pk>/edit/", catalog.product_edit, name="catalog_product_edit"),
    path("catalog/meters/", catalog.meters, name="catalog_meters"),
    path("catalog/meters/new/", catalog.meter_create_view, name="catalog_meter_create"),
    path("catalog/meters/<int:pk>/edit/", catalog.meter_edit, name="catalog_meter_edit"),
    path("catalog/plans/", plans.plans, name="catalog_plans"),
    path("catalog/plans/new/", plans.plan_create, name="catalog_plan_create"),
    path("catalog/plans/<int:pk>/", plans.plan_detail, name="catalog_plan"),
    path("catalog/plans/<int:pk>/revise/", plans.plan_revise, name="catalog_plan_revise"),
    path(
        "catalog/plans/<int:pk>/subscribers/",
        plans.plan_subscribers,
        name="catalog_plan_subscribers",
    ),
    path(
        "clients/<int:pk>/subscriptions/",
        subscriptions.console_client_subscriptions,
        name="client_subscriptions",
    ),
    path(
        "clients/<int:pk>/subscriptions/new/",
        subscriptions.console_subscription_create,
        name="client_subscription_create",
    ),
    path(
        "subscriptions/<int:pk>/quantity/",
        subscriptions.console_subscription_quantity,
        name="subscription_quantity",
    ),
    path(
        "subscriptions/<int:pk>/end/",
        subscriptions.console_subscription_end,
        name="subscription_end",
    ),
]
