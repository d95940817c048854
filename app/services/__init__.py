"""Each public function here is one user action and one database transaction."""
