"""Everything that knows the shape of the Anam API: client, resolve, normalize, voice families."""
