"""What the warehouse tells people: reading scopes, surveillance scores, dashboard panels, case
files, signed evidence bundles, alerts to MCN webhooks, the audit log, category names.
"""
