"""Resolvers: fetch what a field needs, with the caller's row scope in the SQL.

They return database rows; the types in ``gateway.schema`` shape them into nodes. None of them
decides field access: the enforcement point has done that before a resolver runs.
"""
