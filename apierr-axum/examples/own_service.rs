//! A service of one's own: its own catalog of codes, in seed 003's `errors` array, with
//! apierr's extractors, the contract layer around the whole router, and its OpenAPI
//! document (feature `openapi`), every error response stated in the profile.
//!
//! ```sh
//! cargo run -p apierr-axum --features openapi --example own_service   # 127.0.0.1:3000
//! curl -s localhost:3000/orders/abc                 # 400, 5000 naming `id`
//! curl -s localhost:3000/openapi.json               # the document
//! ```

use aide::axum::ApiRouter;
use aide::axum::routing::{get_with, post};
use aide::openapi::OpenApi;
use apierr::{ApiError, Condition, ErrorsArray, Profile};
use apierr_axum::{ContractLayer, Created, Json, Path, Valid, not_found};
use axum::{Router, ServiceExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tower_layer::Layer;

apierr::catalog! {
    /// The shop's codes.
    pub static SHOP: Catalog("shop");
    /// A code of the shop.
    pub enum ShopCode {
        /// The order does not exist.
        NoSuchOrder(3001) = 404, "order not found";
        /// A parameter did not validate.
        Invalid(5000) = 400, "validation error", field: "'{field}' is not valid";
        /// The SKU is sold out.
        SoldOut(4090) = 409, "sold out";
    }
    bind { NotFound => NoSuchOrder, InvalidParameter => Invalid, AlreadyExists => SoldOut }
}

#[derive(Deserialize, JsonSchema)]
struct OrderId {
    /// The order's number.
    id: u64,
}

#[derive(Deserialize, JsonSchema, garde::Validate)]
struct NewOrder {
    /// What is ordered.
    #[garde(length(min = 1, max = 32))]
    sku: String,
}

#[derive(Serialize, JsonSchema)]
struct Order {
    id: u64,
    sku: String,
}

async fn order(Path(OrderId { id }): Path<OrderId>) -> Result<Json<Order>, ApiError> {
    Err(if id == 0 {
        Condition::NotFound.into()
    } else {
        ShopCode::SoldOut.into()
    })
}

async fn create(Valid(Json(new)): Valid<Json<NewOrder>>) -> Created<Order> {
    Created(Order {
        id: 1,
        sku: new.sku,
    })
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let profile = Profile::new("shop", &ErrorsArray, &SHOP);
    let mut api = OpenApi::default();
    api.info.title = "shop".into();
    let router: Router = ApiRouter::new()
        // What the handler answers beyond its extractors'.
        .api_route(
            "/orders/{id}",
            get_with(order, |op| {
                apierr_axum::openapi::conditions(
                    op,
                    &[Condition::NotFound, Condition::AlreadyExists],
                )
            }),
        )
        .api_route("/orders", post(create))
        .finish_api(&mut api);
    // The layer that serves the router is the one its document states.
    let contract = ContractLayer::new(profile);
    apierr_axum::openapi::finish(&mut api, &contract);
    let document = axum::body::Bytes::from(serde_json::to_vec(&api).unwrap_or_default());
    let served = move || {
        let document = document.clone();
        async move { ([(http::header::CONTENT_TYPE, "application/json")], document) }
    };
    let router = router
        .route("/openapi.json", axum::routing::get(served))
        .fallback(not_found);
    let app = contract.layer(router);
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app.into_make_service()).await
}
