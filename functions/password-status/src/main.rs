//! Lambda for `password-status`: all logic lives in `shared`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::bootstrap::run_function(shared::Route::Status).await
}
