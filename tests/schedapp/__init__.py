"""An app for the scheduling tests' worker processes: orders and their dispatch notice."""
