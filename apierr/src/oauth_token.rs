//! The errors of an OAuth 2.0 token endpoint (RFC 6749 §5.2), whatever the API's own
//! contract: OAuth client libraries read these and no other.

crate::catalog! {
    /// RFC 6749 §5.2's token endpoint errors, with the framework conditions bound to them
    /// (a malformed or incomplete request is `invalid_request`, failed client
    /// authentication `invalid_client`). Server failures use RFC 6749 §4.1.2.1's
    /// `server_error` and `temporarily_unavailable`.
    pub static OAUTH_TOKEN: Catalog("oauth-token");
    /// An error code of an OAuth 2.0 token endpoint.
    pub enum TokenError {
        /// The request is missing a required parameter, includes an unsupported parameter
        /// value, repeats a parameter, uses more than one way to authenticate the client, or
        /// is otherwise malformed.
        InvalidRequest("invalid_request") = 400, "the token request is not valid",
            field: "'{field}' is missing or not valid";
        /// Client authentication failed: an unknown client, no client authentication, or
        /// an unsupported authentication method.
        InvalidClient("invalid_client") = 401, "client authentication failed";
        /// The authorization grant is invalid, expired or revoked.
        InvalidGrant("invalid_grant") = 400, "the authorization grant is not valid";
        /// The authenticated client is not allowed to use this grant type.
        UnauthorizedClient("unauthorized_client") = 400, "the client may not use this grant type";
        /// The grant type is not supported by the authorization server.
        UnsupportedGrantType("unsupported_grant_type") = 400, "the grant type is not supported";
        /// The requested scope is invalid, unknown or malformed.
        InvalidScope("invalid_scope") = 400, "the requested scope is not valid";
        /// The server failed to answer the request.
        ServerError("server_error") = 500, "the server failed";
        /// The server cannot answer now (overloaded or in maintenance).
        TemporarilyUnavailable("temporarily_unavailable") = 503, "the server is temporarily unavailable";
    }
    bind {
        MalformedBody => InvalidRequest,
        InvalidParameter => InvalidRequest,
        MissingParameter => InvalidRequest,
        UnsupportedMediaType => InvalidRequest,
        Unauthenticated => InvalidClient,
        InvalidToken => InvalidClient,
        KeyRevoked => InvalidClient,
        Internal => ServerError,
        Timeout => TemporarilyUnavailable,
        ServiceUnavailable => TemporarilyUnavailable,
    }
}
