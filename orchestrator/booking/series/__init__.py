"""Series: the same meeting on a rhythm (DESIGN 10), booked, changed and cancelled with the
booking machinery, every occurrence an ordinary session under rules 1-8."""
