"""Outlet, supervisor and auditor pages."""
