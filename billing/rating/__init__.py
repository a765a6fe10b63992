"""The pure rating engine: plain dataclasses in, plain dataclasses out, no database.

See `types.py` for the pipeline; month-end rating aggregates in SQL with the same aggregations
(`Aggregation.sql`) and prices the aggregated rows with `charge_models.price` and
`pooling.rate_charge`.
"""
