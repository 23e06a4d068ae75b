"""The KPIs dock: live key figures and the route timeline (pyqtgraph)."""
