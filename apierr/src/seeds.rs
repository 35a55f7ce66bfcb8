//! The catalogs of the five vendor contracts apierr reproduces.
//!
//! Seeds 000 and 001 are one vendor's (the response wrapper, the OAuth token error, and
//! the retry rules); 002, 003 and 004 are three others'. Where a seed names a status but no
//! code, the catalog gives one in the seed's own style; where it names neither, the
//! condition is left to the catalog's default (for numeric catalogs, the status as code,
//! which is what seeds 003 and 004 tell clients to fall back to).

crate::catalog! {
    /// Seed 000's codes: statuses with a text code each, token errors in the OAuth form.
    pub static SEED_000: Catalog("wrapper");
    /// A code of seed 000's contract.
    pub enum Seed000Code {
        /// The incoming data could not be parsed, or the JSON was semantically invalid.
        BadRequest("bad_request") = 400, "Bad Request";
        /// A required parameter was missing or invalid.
        ValidationError("validation_error") = 400, "Validation error";
        /// Request needs proper authorization.
        Unauthorized("unauthorized") = 401, "Unauthorized";
        /// The access token is invalid or expired (OAuth 2.0 form).
        InvalidToken("invalid_token") = 401, "Invalid access token";
        /// Provided authorization is insufficient.
        Forbidden("forbidden") = 403, "Forbidden";
        /// The requested resource doesn't exist.
        NotFound("not_found") = 404, "Not Found";
        /// The record to create exists already.
        Conflict("conflict") = 409, "Conflict";
        /// Too many requests hit the API too quickly; back off exponentially.
        TooManyRequests("too_many_requests") = 429, "Too Many Requests";
        /// Something went wrong on the server's end.
        ServerError("server_error") = 500, "Internal Server Error";
    }
    bind {
        MalformedBody => BadRequest,
        InvalidParameter => ValidationError,
        MissingParameter => ValidationError,
        NotFound => NotFound,
        AlreadyExists => Conflict,
        Unauthenticated => Unauthorized,
        InvalidToken => InvalidToken,
        ExpiredToken => InvalidToken,
        Forbidden => Forbidden,
        RateLimited => TooManyRequests,
        Internal => ServerError,
    }
}

crate::catalog! {
    /// Seed 002's codes: `validation_error`, `expired_token`, `incorrect_token`, and a text
    /// code for each status of its table.
    pub static SEED_002: Catalog("nested");
    /// A code of seed 002's contract.
    pub enum Seed002Code {
        /// Any type of erroneous input to the API, including incorrect data format or missing
        /// fields.
        ValidationError("validation_error") = 400, "Validation error";
        /// The request was unacceptable.
        BadRequest("bad_request") = 400, "Bad request";
        /// Missing credentials.
        Unauthorized("unauthorized") = 401, "Missing credentials";
        /// Used when a public token expires after 6 hours.
        ExpiredToken("expired_token") = 401, "Public token expired";
        /// Used when any token (public or access) cannot be matched with internal storage.
        IncorrectToken("incorrect_token") = 403, "Token is invalid";
        /// Permission denied.
        Forbidden("forbidden") = 403, "Permission denied";
        /// The resource does not exist.
        NotFound("not_found") = 404, "The resource does not exist";
        /// The request method is known by the server but is not supported by the target
        /// resource.
        MethodNotAllowed("method_not_allowed") = 405, "Method not allowed";
        /// The server cannot produce a response matching the list of acceptable values
        /// defined in the request's content negotiation headers.
        NotAcceptable("not_acceptable") = 406, "Not acceptable";
        /// Bridge token is expired.
        BridgeTokenExpired("bridge_token_expired") = 410, "Bridge token is expired";
        /// The request's payload format is in an unsupported format.
        UnsupportedMediaType("unsupported_media_type") = 415, "Unsupported media type";
        /// Too many requests have been sent in a given period of time.
        TooManyRequests("too_many_requests") = 429, "Too many requests";
        /// An error occurred with the API.
        InternalError("internal_error") = 500, "Internal server error";
    }
    bind {
        MalformedBody => BadRequest,
        InvalidParameter => ValidationError,
        MissingParameter => ValidationError,
        Unauthenticated => Unauthorized,
        InvalidToken => IncorrectToken,
        ExpiredToken => ExpiredToken,
        SessionExpired => BridgeTokenExpired,
        Forbidden => Forbidden,
        NotFound => NotFound,
        MethodNotAllowed => MethodNotAllowed,
        NotAcceptable => NotAcceptable,
        UnsupportedMediaType => UnsupportedMediaType,
        RateLimited => TooManyRequests,
        Internal => InternalError,
    }
}

crate::catalog! {
    /// Seed 003's table of codes, 2006 to 9003, with the sub-codes of 2006.
    pub static SEED_003: Catalog("errors-array");
    /// A code of seed 003's contract.
    pub enum Seed003Code {
        /// Error occurred while saving the entity.
        EntitySaving(2006) = 400, "entity saving error";
        /// Error occurred while saving the entity. USPTA number must be unique.
        UsptaNumberTaken(200601 under EntitySaving) = 400, "entity saving error: USPTA number must be unique";
        /// Error occurred while saving the entity. PTR number must be unique.
        PtrNumberTaken(200602 under EntitySaving) = 400, "entity saving error: PTR number must be unique";
        /// Entity was not found.
        EntityNotFound(3001) = 404, "entity not found";
        /// Same entity already exists and cannot be created. Seed 003 gives no status for
        /// its codes and asks for the appropriate one: 409 Conflict, so that a client (and
        /// a tool) can tell a duplicate from a malformed request.
        EntityExists(3002) = 409, "entity already exists";
        /// Authentication token is not valid.
        TokenInvalid(4003) = 401, "authentication token is invalid";
        /// Unknown authentication error occurred.
        AuthenticationError(4004) = 401, "authentication error";
        /// Authorization token for backend system call is not valid therefore request cannot
        /// be completed.
        BackendTokenInvalid(4005) = 500, "backend system token is invalid";
        /// Access is denied.
        AccessDenied(4006) = 403, "access denied";
        /// Validation error. Additional attributes "subject" and "subjectType" may be present
        /// in response containing additional information (e.g. field name).
        ValidationError(5000) = 400, "validation error";
        /// Supplied method arguments either invalid or incomplete.
        IllegalArguments(5001) = 400, "illegal combination of method arguments";
        /// Entity primary key is empty, request cannot be completed.
        EntityIdEmpty(5002) = 400, "entity id is empty";
        /// Unknown entity identifier error.
        UnknownIdentifier(5003) = 400, "unknown identifier error";
        /// No remaining amount error.
        NoRemainingAmount(5004) = 400, "no remaining amount";
        /// Empty "client org" attribute value.
        EmptyClientOrg(6001) = 400, "empty client org";
        /// Password cannot be empty.
        EmptyPassword(6002) = 400, "empty password";
        /// Invalid "client grant type" value error.
        InvalidGrantType(6003) = 400, "invalid client grant type";
        /// Invalid "client profile" value error.
        InvalidClientProfile(6004) = 400, "invalid client profile";
        /// Invalid "client scope" value error.
        InvalidScopeSet(6005) = 400, "invalid client scope set";
        /// New passwords do not match.
        NewPasswordMismatch(6006) = 400, "new password not match";
        /// Wrong password.
        WrongPassword(6007) = 400, "wrong password";
        /// Unexpected system error.
        UnexpectedSystemError(9001) = 500, "unexpected system error";
        /// HTTP message not readable error.
        MessageNotReadable(9002) = 400, "HTTP message not readable error";
        /// Error while triggering an email.
        MailTriggerError(9003) = 500, "mail trigger error";
    }
    bind {
        MalformedBody => MessageNotReadable,
        InvalidParameter => ValidationError,
        MissingParameter => ValidationError,
        NotFound => EntityNotFound,
        AlreadyExists => EntityExists,
        Unauthenticated => AuthenticationError,
        InvalidToken => TokenInvalid,
        ExpiredToken => TokenInvalid,
        // A logged-out token is a token that is no longer valid; a revoked key is denied.
        SessionExpired => TokenInvalid,
        KeyRevoked => AccessDenied,
        Forbidden => AccessDenied,
        Internal => UnexpectedSystemError,
    }
}

crate::catalog! {
    /// Seed 004's exception codes (the status itself, including 460–463) and its specific
    /// codes 23005, 23016 and 23017. Seed 004 says every error carries a specific code but
    /// names only those three; the framework's other conditions get apierr's own, 23901 and
    /// up (each entry says so), so that every error a server sends has one.
    pub static SEED_004: Catalog("specific-code");
    /// A code of seed 004's contract.
    pub enum Seed004Code {
        /// Bad Request.
        BadRequest(400) = 400, "Bad Request";
        /// Unauthorized.
        Unauthorized(401) = 401, "Unauthorized";
        /// Forbidden.
        Forbidden(403) = 403, "Forbidden";
        /// Not Found.
        NotFound(404) = 404, "Not Found";
        /// Method Not Allowed.
        MethodNotAllowed(405) = 405, "Method Not Allowed";
        /// Not Acceptable.
        NotAcceptable(406) = 406, "Not Acceptable";
        /// Too Many Requests.
        TooManyRequests(429) = 429, "Too Many Requests";
        /// Unknown.
        Unknown(460) = 460, "Unknown";
        /// Failed Request.
        FailedRequest(461) = 461, "Failed Request";
        /// Session Expired.
        SessionExpired(462) = 462, "Session Expired";
        /// Key Revoked.
        KeyRevoked(463) = 463, "Key Revoked";
        /// Internal Server Error.
        InternalServerError(500) = 500, "Internal Server Error";
        /// Not Implemented.
        NotImplemented(501) = 501, "Not Implemented";
        /// The required Date parameter does not fall within 5 minutes of UTC time,
        /// invalidating the request. Fixed by correcting the clock, not the credentials.
        RequestStale(23005) = 401, "Request is stale", category: Content;
        /// A parameter provided in the request did not validate correctly; thrown for the
        /// first invalid parameter found. The additional messages hold the validator's
        /// reasons.
        ParameterInvalid(23016) = 400, "parameter does not validate", field: "'{field}' does not validate";
        /// A required parameter was missing from the request.
        ParameterRequired(23017) = 400, "parameter is required", field: "'{field}' is required";
        /// The body could not be read. apierr's own specific code: seed 004 says every
        /// error has one but names none for this exception.
        Malformed(23901) = 400, "Bad Request";
        /// No credentials were sent. apierr's own specific code.
        NoCredentials(23902) = 401, "Unauthorized";
        /// The credentials are not known. apierr's own specific code.
        UnknownCredentials(23903) = 401, "Unauthorized";
        /// The token has expired. apierr's own specific code.
        TokenExpired(23904) = 401, "Unauthorized";
        /// The credentials do not allow this request. apierr's own specific code.
        NotPermitted(23905) = 403, "Forbidden";
        /// No such resource. apierr's own specific code.
        NoSuchResource(23906) = 404, "Not Found";
        /// The resource does not take this method. apierr's own specific code.
        WrongMethod(23907) = 405, "Method Not Allowed";
        /// The `Accept` header excludes JSON. apierr's own specific code.
        NotJson(23908) = 406, "Not Acceptable";
        /// Too many requests. apierr's own specific code.
        RateLimitExceeded(23909) = 429, "Too Many Requests";
        /// The session has ended. apierr's own specific code, with seed 004's status.
        SessionEnded(23910) = 462, "Session Expired";
        /// The key has been revoked. apierr's own specific code, with seed 004's status.
        KeyWithdrawn(23911) = 463, "Key Revoked";
        /// The server failed; the cause is logged. apierr's own specific code.
        ServerFailed(23912) = 500, "Internal Server Error";
        /// Not implemented. apierr's own specific code.
        NotSupported(23913) = 501, "Not Implemented";
        /// The body is larger than allowed. apierr's own specific code and status (seed
        /// 004 lists no 413).
        TooLarge(23914) = 413, "Content Too Large";
        /// The body's media type is not accepted. apierr's own specific code and status.
        WrongMediaType(23915) = 415, "Unsupported Media Type";
        /// The record exists already. apierr's own specific code and status.
        Exists(23916) = 409, "Conflict";
        /// The handler did not finish in time. apierr's own specific code and status.
        TimedOut(23917) = 503, "Request timed out";
        /// The client did not send its request in time. apierr's own.
        ClientTimedOut(23918) = 408, "Request Timeout";
        /// A service behind the API failed. apierr's own.
        UpstreamFailed(23919) = 502, "Bad Gateway";
        /// The API cannot take the request now. apierr's own.
        Unavailable(23920) = 503, "Service Unavailable";
        /// A service behind the API did not answer in time. apierr's own.
        UpstreamTimedOut(23921) = 504, "Gateway Timeout";
        /// The endpoint requires an `Idempotency-Key`. apierr's own.
        IdempotencyKeyRequired(23922) = 400, "Idempotency key required";
        /// A request with the same idempotency key is in progress. apierr's own.
        IdempotencyKeyInUse(23923) = 409, "Request with this idempotency key is in progress";
        /// The idempotency key was used with another request. apierr's own.
        IdempotencyKeyMismatch(23924) = 422, "Idempotency key reused with a different request";
    }
    bind {
        MalformedBody => Malformed,
        InvalidParameter => ParameterInvalid,
        MissingParameter => ParameterRequired,
        UnsupportedMediaType => WrongMediaType,
        NotAcceptable => NotJson,
        MethodNotAllowed => WrongMethod,
        NotFound => NoSuchResource,
        AlreadyExists => Exists,
        PayloadTooLarge => TooLarge,
        Unauthenticated => NoCredentials,
        InvalidToken => UnknownCredentials,
        ExpiredToken => TokenExpired,
        Forbidden => NotPermitted,
        KeyRevoked => KeyWithdrawn,
        SessionExpired => SessionEnded,
        StaleRequest => RequestStale,
        RateLimited => RateLimitExceeded,
        IdempotencyKeyMissing => IdempotencyKeyRequired,
        IdempotencyInFlight => IdempotencyKeyInUse,
        IdempotencyKeyReused => IdempotencyKeyMismatch,
        Internal => ServerFailed,
        Timeout => TimedOut,
        NotImplemented => NotSupported,
        RequestTimeout => ClientTimedOut,
        BadGateway => UpstreamFailed,
        ServiceUnavailable => Unavailable,
        GatewayTimeout => UpstreamTimedOut,
    }
}
