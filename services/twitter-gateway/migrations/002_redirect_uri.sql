-- The address X sends the browser back to: the API's own callback, or another registered one (the web
-- client's page). The token exchange must present the same address.
ALTER TABLE oauth_states ADD COLUMN redirect_uri text;
