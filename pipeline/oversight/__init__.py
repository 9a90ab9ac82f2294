"""Oversight: what supervisors do with the notices and the ledger (城口's 三账一表, 什邡's 通报).

``projects`` groups notices into projects by ``project.code``; ``deliveries`` reads what the
ledger knows about each notice (read-only); ``stats`` counts projects and money by year,
department and area; ``compliance`` is the monthly report; ``alerts`` tells officials what is
overdue; ``xlsx_import`` turns a clerk's spreadsheet into notice files.
"""
