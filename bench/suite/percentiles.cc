#include "percentiles.h"

#include <algorithm>
#include <cmath>

namespace shmbus::bench {
namespace {
double at_quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  size_t index = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size()))) - 1;
  return sorted[std::min(index, sorted.size() - 1)];
}
}  // namespace

Percentiles summarize(std::vector<double>& samples) {
  std::sort(samples.begin(), samples.end());
  return {at_quantile(samples, 0.50), at_quantile(samples, 0.99), at_quantile(samples, 0.999),
          at_quantile(samples, 0.9999), samples.empty() ? 0 : samples.back()};
}

Spread spread_of(std::vector<double> values) {
  if (values.empty()) return {};
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  double median = n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
  return {median, values.front(), values.back()};
}

}  // namespace shmbus::bench
