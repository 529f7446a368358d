-- One request per tweet, however often the tweet is received (the inbox deduplicates one event; this
-- holds even for a tweet published twice, or replayed through a new consumer group).
CREATE UNIQUE INDEX requests_one_per_source_ref ON requests (source, source_ref) WHERE source_ref IS NOT NULL;

-- Tweets deleted on X. Their deletion can arrive before the tweet itself (the events travel on
-- different topics); a tweet listed here never becomes a request.
CREATE TABLE deleted_tweets (
    tweet_id   text PRIMARY KEY,
    deleted_at timestamptz NOT NULL DEFAULT now()
);
