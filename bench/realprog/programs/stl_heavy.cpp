// C++ file that g++ compiles in bench_realprog: many instantiations of the
// standard containers and algorithms, which keep the compiler's own heap busy.
#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <numeric>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <variant>
#include <vector>

template <int N>
struct Node {
    std::string name = std::to_string(N);
    std::vector<Node<N - 1>> children;
    std::map<std::string, int> attributes;
    int weight() const {
        int sum = N + static_cast<int>(attributes.size());
        for (const auto &c : children) sum += c.weight();
        return sum;
    }
};
template <>
struct Node<0> {
    int weight() const { return 0; }
};

template <class Key, class Value>
Value fold(const std::unordered_map<Key, Value> &table) {
    std::vector<std::pair<Key, Value>> items(table.begin(), table.end());
    std::sort(items.begin(), items.end(), [](const auto &a, const auto &b) { return a.second < b.second; });
    return std::accumulate(items.begin(), items.end(), Value{},
                           [](Value acc, const auto &item) { return acc + item.second; });
}

template <class T>
std::string describe(const std::vector<T> &values) {
    std::ostringstream out;
    std::set<T> unique(values.begin(), values.end());
    out << values.size() << " values, " << unique.size() << " distinct";
    return out.str();
}

using Cell = std::variant<int, double, std::string, std::vector<int>>;

template <int... I>
auto build(std::integer_sequence<int, I...>) {
    return std::make_tuple(Node<I % 6 + 1>{}...);
}

int main() {
    std::unordered_map<std::string, int> words;
    std::unordered_map<int, double> numbers;
    std::unordered_map<long, long> longs;
    std::unordered_set<std::string> seen;
    std::multimap<double, std::string> ordered;
    std::vector<Cell> cells;
    std::vector<std::function<int(int)>> functions;
    for (int i = 0; i < 100; i++) {
        words[std::to_string(i)] = i;
        numbers[i] = i / 3.0;
        longs[i] = i * 7L;
        seen.insert(std::to_string(i * i));
        ordered.emplace(i / 7.0, std::to_string(i));
        cells.emplace_back(std::vector<int>(i % 5, i));
        functions.emplace_back([i](int x) { return x * i; });
    }
    auto nodes = build(std::make_integer_sequence<int, 48>{});
    int total = std::apply([](const auto &...n) { return (n.weight() + ...); }, nodes);
    std::vector<std::string> names(words.size());
    std::transform(words.begin(), words.end(), names.begin(), [](const auto &p) { return p.first; });
    std::stable_sort(names.begin(), names.end());
    std::vector<double> doubles(numbers.size());
    std::transform(numbers.begin(), numbers.end(), doubles.begin(), [](const auto &p) { return p.second; });
    auto shared = std::make_shared<std::map<int, std::vector<std::string>>>();
    for (const auto &name : names) (*shared)[static_cast<int>(name.size())].push_back(name);
    std::size_t visited = 0;
    for (const auto &cell : cells)
        visited += std::visit([](const auto &v) -> std::size_t {
            if constexpr (std::is_same_v<std::decay_t<decltype(v)>, std::vector<int>>) return v.size();
            else return 1;
        }, cell);
    return (fold(words) + static_cast<int>(fold(numbers)) + static_cast<int>(fold(longs)) + total +
            static_cast<int>(describe(names).size() + describe(doubles).size() + visited + seen.size() +
                             ordered.size() + functions.size() + shared->size())) & 0x7f;
}
