"""django-tenants' PostgreSQL backend, issuing `SET search_path` once per tenant switch.

With TENANT_LIMIT_SET_CALLS=False django-tenants issues `SET search_path` for every cursor, i.e. for
most queries. We keep that setting False (its meaning is global) and instead skip the statement
while the value PostgreSQL holds is known to be ours: django-tenants forgets it on set_tenant,
close, rollback and savepoint rollback — every event after which PostgreSQL may have forgotten it
too, since `SET` is transactional. The tenant middleware calls set_tenant on every request, so each
request issues exactly one `SET search_path`.
"""

from django_tenants.postgresql_backend import base


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args, **kwargs):
        # How many times SET search_path ran on this connection; read by tests and benchmarks.
        self.search_path_set_count = 0
        super().__init__(*args, **kwargs)

    def _handle_search_path(self, cursor=None):
        if self.search_path_set_schemas is not None or self._setting_search_path:
            return
        super()._handle_search_path(cursor)
        if self.search_path_set_schemas is not None:
            self.search_path_set_count += 1
