"""ODS and Agenda Urbana indicators: catalogue, computation, disclosure control, Open SDG."""
