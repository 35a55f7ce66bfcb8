//! A service of one's own: its own catalog of codes, in seed 003's `errors` array, with
//! apierr's extractors and the contract layer around the whole router.
//!
//! ```sh
//! cargo run -p apierr-axum --example own_service          # listens on 127.0.0.1:3000
//! curl -s localhost:3000/orders/abc                        # 400, 5000 naming `id`
//! curl -s -XPOST localhost:3000/orders -H 'content-type: application/json' -d '{"sku":""}'
//! ```

use apierr::{ApiError, Condition, ErrorsArray, Profile};
use apierr_axum::{ContractLayer, Created, Json, Path, Valid, not_found};
use axum::routing::{get, post};
use axum::{Router, ServiceExt};
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
    bind { NotFound => NoSuchOrder, InvalidParameter => Invalid }
}

#[derive(Deserialize, garde::Validate)]
struct NewOrder {
    #[garde(length(min = 1, max = 32))]
    sku: String,
}

#[derive(Serialize)]
struct Order {
    id: u64,
    sku: String,
}

async fn order(Path(id): Path<u64>) -> Result<Json<Order>, ApiError> {
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
    let router = Router::new()
        .route("/orders/{id}", get(order))
        .route("/orders", post(create))
        .fallback(not_found);
    let profile = Profile::new("shop", &ErrorsArray, &SHOP);
    let app = ContractLayer::new(profile).layer(router);
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app.into_make_service()).await
}
