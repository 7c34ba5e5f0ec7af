// What EvenTicket sells: three kinds of ticket, their prices and the stock Inventory starts
// with (VIP is scarce on purpose: some orders are cancelled "out of stock").
#pragma once

#include <string_view>

namespace eventicket {

struct Product {
  std::string_view sku;
  long long price = 0;  // cents
  long long stock = 0;  // Inventory's initial stock
};

inline constexpr Product kCatalog[] = {
    {"FLOOR", 4500, 400},
    {"SEAT", 6500, 300},
    {"VIP", 19900, 60},
};

inline const Product* find_product(std::string_view sku) {
  for (const Product& p : kCatalog) {
    if (p.sku == sku) return &p;
  }
  return nullptr;
}

}  // namespace eventicket
