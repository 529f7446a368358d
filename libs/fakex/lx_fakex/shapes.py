"""X API v2 JSON shapes: tweet and user objects, includes, and the error bodies X answers with."""

from __future__ import annotations

from typing import Any

from lx_fakex.state import FakeXState, Tweet, User, x_time

INVALID_REQUEST = "https://api.twitter.com/2/problems/invalid-request"
NOT_FOUND = "https://api.twitter.com/2/problems/resource-not-found"

TWEET_FIELDS = frozenset(
    "article attachments author_id card_uri community_id context_annotations conversation_id created_at "
    "display_text_range edit_controls edit_history_tweet_ids entities geo id in_reply_to_user_id lang "
    "media_metadata non_public_metrics note_tweet organic_metrics possibly_sensitive promoted_metrics "
    "public_metrics referenced_tweets reply_settings scopes source text withheld".split()
)
USER_FIELDS = frozenset(
    "affiliation connection_status created_at description entities id location most_recent_tweet_id name "
    "pinned_tweet_id profile_banner_url profile_image_url protected public_metrics receives_your_dm "
    "subscription_type url username verified verified_type withheld".split()
)
TWEET_EXPANSIONS = frozenset(
    "article.cover_media article.media_entities attachments.media_keys attachments.media_source_tweet "
    "attachments.poll_ids author_id edit_history_tweet_ids entities.mentions.username geo.place_id "
    "in_reply_to_user_id entities.note.mentions.username referenced_tweets.id "
    "referenced_tweets.id.attachments.media_keys referenced_tweets.id.author_id".split()
)
USER_EXPANSIONS = frozenset({"affiliation.user_id", "most_recent_tweet_id", "pinned_tweet_id"})
OTHER_FIELD_PARAMS = ("media.fields", "place.fields", "poll.fields")

UNAUTHORIZED = {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}
TOO_MANY = {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}
FORBIDDEN = {"title": "Forbidden", "type": "about:blank", "status": 403, "detail": "Forbidden"}
UNSUPPORTED_AUTH = {
    "title": "Unsupported Authentication",
    "detail": "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  Supported "
    "authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context].",
    "type": "https://api.twitter.com/2/problems/unsupported-authentication",
    "status": 403,
}


def server_error(status: int) -> dict[str, Any]:
    title = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
    text = title.get(status, "Server Error")
    return {"title": text, "detail": text, "type": "about:blank", "status": status}


def invalid_request(message: str, parameter: str | None = None, value: str | None = None) -> dict[str, Any]:
    """X's 400 body: one error naming the parameter and the value given."""
    error: dict[str, Any] = {"message": message}
    if parameter is not None:
        error = {"parameters": {parameter: [value if value is not None else ""]}, "message": message}
    return {
        "errors": [error],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": INVALID_REQUEST,
    }


def not_found(kind: str, parameter: str, value: str) -> dict[str, Any]:
    """One entry of a 200 answer's `errors`: a tweet or user that does not exist (or no longer)."""
    return {
        "value": value,
        "detail": f"Could not find {kind} with {parameter}: [{value}].",
        "title": "Not Found Error",
        "resource_type": kind,
        "parameter": parameter,
        "resource_id": value,
        "type": NOT_FOUND,
    }


def user_json(user: User, fields: frozenset[str] = frozenset()) -> dict[str, Any]:
    body: dict[str, Any] = {"id": user.id, "name": user.name, "username": user.username}
    extra: dict[str, Any] = {
        "created_at": x_time(user.created_at),
        "description": "",
        "protected": False,
        "verified": False,
        "verified_type": "none",
        "profile_image_url": "https://abs.twimg.com/sticky/default_profile_images/default_profile_normal.png",
        "public_metrics": {"followers_count": 0, "following_count": 0, "tweet_count": 0, "listed_count": 0},
        "url": "",
    }
    body.update({k: v for k, v in extra.items() if k in fields})
    return body


def tweet_json(state: FakeXState, tweet: Tweet, fields: frozenset[str] = frozenset()) -> dict[str, Any]:
    body: dict[str, Any] = {"id": tweet.id, "text": tweet.text, "edit_history_tweet_ids": [tweet.id]}
    extra: dict[str, Any] = {
        "created_at": x_time(tweet.created_at),
        "author_id": tweet.author_id,
        "conversation_id": tweet.conversation_id,
        "lang": "en",
        "possibly_sensitive": False,
        "reply_settings": "everyone",
        "public_metrics": {
            "retweet_count": 0,
            "reply_count": 0,
            "like_count": 0,
            "quote_count": 0,
            "bookmark_count": 0,
            "impression_count": 0,
        },
    }
    if tweet.in_reply_to_user_id is not None:
        extra["in_reply_to_user_id"] = tweet.in_reply_to_user_id
    referenced = []
    if tweet.retweet_of is not None:
        referenced.append({"type": "retweeted", "id": tweet.retweet_of})
    if tweet.in_reply_to_tweet_id is not None:
        referenced.append({"type": "replied_to", "id": tweet.in_reply_to_tweet_id})
    if referenced:
        extra["referenced_tweets"] = referenced
    entities: dict[str, Any] = {}
    if tweet.hashtags:
        entities["hashtags"] = [{"start": s, "end": e, "tag": tag} for s, e, tag in tweet.hashtags]
    if tweet.mentions:
        mentions = []
        for s, e, username in tweet.mentions:
            entry: dict[str, Any] = {"start": s, "end": e, "username": username}
            user = state.user_by_username(username)
            if user is not None:
                entry["id"] = user.id
            mentions.append(entry)
        entities["mentions"] = mentions
    if entities:
        extra["entities"] = entities
    body.update({k: v for k, v in extra.items() if k in fields})
    return body


def includes_for(
    state: FakeXState,
    tweets: list[Tweet],
    expansions: frozenset[str],
    tweet_fields: frozenset[str],
    user_fields: frozenset[str],
) -> dict[str, Any]:
    """The `includes` object for these tweets and expansions (empty dict when nothing to include)."""
    user_ids: list[str] = []
    included: list[Tweet] = []

    def want_user(user_id: str | None) -> None:
        if user_id is not None and user_id not in user_ids and user_id in state.users:
            user_ids.append(user_id)

    for t in tweets:
        if "author_id" in expansions:
            want_user(t.author_id)
        if "in_reply_to_user_id" in expansions:
            want_user(t.in_reply_to_user_id)
        if "entities.mentions.username" in expansions:
            for _, _, username in t.mentions:
                user = state.user_by_username(username)
                want_user(user.id if user else None)
        if "referenced_tweets.id" in expansions or "referenced_tweets.id.author_id" in expansions:
            for ref_id in (t.retweet_of, t.in_reply_to_tweet_id):
                ref = state.tweets.get(ref_id) if ref_id else None
                if ref is not None and not ref.deleted and ref not in included:
                    if "referenced_tweets.id" in expansions:
                        included.append(ref)
                    if "referenced_tweets.id.author_id" in expansions:
                        want_user(ref.author_id)
    out: dict[str, Any] = {}
    if user_ids:
        out["users"] = [user_json(state.users[u], user_fields) for u in user_ids]
    if included:
        out["tweets"] = [tweet_json(state, t, tweet_fields) for t in included]
    return out
