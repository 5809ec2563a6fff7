"""The parts of deploy/picket-ha that know nothing of the deployment: a small RESP client
(resp) and what this host says about processes and ports (host)."""
