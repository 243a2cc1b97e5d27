//! Lambda for `forgot-password`: all logic lives in `shared`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::bootstrap::run_function(shared::Route::Forgot).await
}
