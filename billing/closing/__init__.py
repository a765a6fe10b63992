"""Month-end rating: what a period's invoices should be (rate.py, reads + pure pricing), and
writing them for a chunk of partners (write.py). Orchestration lives in billing.services.periods."""
