"""The dashboard: server-rendered pages for supervisors and QA analysts, served by `callsense serve`."""
