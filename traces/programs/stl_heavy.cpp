// An STL-heavy translation unit for recording a C++ compile (cc1plus): many
// containers, algorithms and templates instantiated over several types.
#include <algorithm>
#include <deque>
#include <functional>
#include <cstdio>
#include <list>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <variant>
#include <vector>

template <typename Key, typename Value>
struct Table {
    std::map<Key, std::vector<Value>> rows;
    std::unordered_map<Key, std::size_t> counts;

    void add(const Key &k, const Value &v) {
        rows[k].push_back(v);
        ++counts[k];
    }
    std::vector<Value> sorted(const Key &k) const {
        auto it = rows.find(k);
        if (it == rows.end()) return {};
        std::vector<Value> out = it->second;
        std::sort(out.begin(), out.end());
        out.erase(std::unique(out.begin(), out.end()), out.end());
        return out;
    }
};

using Cell = std::variant<int, double, std::string, std::vector<int>>;

std::string describe(const Cell &c) {
    return std::visit(
        [](const auto &v) -> std::string {
            using T = std::decay_t<decltype(v)>;
            std::ostringstream s;
            if constexpr (std::is_same_v<T, std::vector<int>>) {
                s << "[" << std::accumulate(v.begin(), v.end(), 0) << "]";
            } else {
                s << v;
            }
            return s.str();
        },
        c);
}

template <typename T>
std::optional<T> median(std::vector<T> v) {
    if (v.empty()) return std::nullopt;
    std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
    return v[v.size() / 2];
}

int main() {
    Table<std::string, int> a;
    Table<int, std::string> b;
    Table<long, double> c;
    std::unordered_set<std::string> seen;
    std::deque<std::function<int(int)>> pipeline{[](int x) { return x * 2; }, [](int x) { return x + 3; }};
    std::list<std::unique_ptr<Cell>> cells;
    std::istringstream text("alpha1 beta22 gamma delta4 epsilon55");
    int position = 0;
    for (std::string token; text >> token; position++) {
        const auto digits = token.find_first_of("0123456789");
        const std::string letters = token.substr(0, digits);
        a.add(letters, static_cast<int>(digits == std::string::npos ? 0 : token.size() - digits));
        b.add(position, letters);
        seen.insert(token);
    }
    for (int i = 0; i < 100; i++) {
        c.add(i % 7 * 10L + i % 3, i * 0.5);
        cells.push_back(std::make_unique<Cell>(i % 2 ? Cell{i} : Cell{std::to_string(i)}));
    }
    std::multiset<std::string> names(seen.begin(), seen.end());
    std::map<std::string, std::set<int>> inverted;
    for (const auto &[k, v] : a.rows)
        for (int x : v) inverted[k].insert(std::accumulate(pipeline.begin(), pipeline.end(), x,
                                                            [](int acc, auto &f) { return f(acc); }));
    std::vector<double> values;
    for (const auto &[k, v] : c.rows) values.insert(values.end(), v.begin(), v.end());
    std::printf("%zu %zu %g %s %zu %zu\n", names.size(), inverted.size(), median(values).value_or(0),
                describe(*cells.front()).c_str(), a.sorted("alpha").size(), b.counts.size());
    return 0;
}
