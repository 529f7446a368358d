-- An invitation stays when the person who sent it is erased; it then names no inviter.
ALTER TABLE invitations ALTER COLUMN invited_by DROP NOT NULL;
