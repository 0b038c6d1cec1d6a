"""Users, roles, data scopes and the actor every service call runs as."""
