#pragma once
// One request's answer, shared by every route family: records the request's metrics when it
// responds, and turns an exception in any of its continuations into a 500 rather than letting it
// escape into an io or engine thread. Copyable: every continuation holds its own copy.

#include <chrono>
#include <exception>
#include <functional>
#include <utility>

#include "server/json_codec.h"
#include "server/metrics.h"
#include "server/routes.h"

namespace capillary::server {

class Call {
 public:
  Call(Metrics& metrics, Route route, Respond respond)
      : metrics_(&metrics),
        route_(route),
        start_(std::chrono::steady_clock::now()),
        respond_(std::move(respond)) {}

  void answer(Response response) const {
    metrics_->record_request(route_, response.status, std::chrono::steady_clock::now() - start_);
    respond_(std::move(response));
  }

  void fail(const ApiError& error) const {
    Response response;
    response.status = error.http_status;
    write_error(response.body, error);
    if (error.http_status == 503) response.retry_after_s = 1;
    answer(std::move(response));
  }

  // Runs `task` on the io thread that writes this call's answer: an engine callback handing its
  // formatting back through here answers without a further hop between threads.
  void post(std::function<void()> task) const { respond_.post(std::move(task)); }
  // The same as an engine read's reply: posted once everything the read saw is durable.
  std::function<void()> post_later(std::function<void()> task) const {
    return [call = *this, task = std::move(task)]() mutable { call.post(std::move(task)); };
  }

  template <typename Work>
  void guarded(Work&& work) const noexcept {
    try {
      work();
    } catch (const std::exception& exception) {
      fail({500, "internal", exception.what(), {}});
    }
  }

 private:
  Metrics* metrics_;
  Route route_;
  std::chrono::steady_clock::time_point start_;
  Respond respond_;
};

}  // namespace capillary::server
