// A C++ file for g++ to compile under the drop-in malloc; the program it
// makes prints a checksum.
#include <algorithm>
#include <iostream>
#include <map>
#include <memory>
#include <numeric>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

template <class K, class V>
std::map<K, std::vector<V>> group(const std::vector<std::pair<K, V>> &items) {
    std::map<K, std::vector<V>> out;
    for (const auto &[k, v] : items) out[k].push_back(v);
    return out;
}

int main() {
    std::vector<std::pair<std::string, int>> items;
    for (int i = 0; i < 50000; i++) items.emplace_back("key" + std::to_string(i % 977), i);
    auto groups = group(items);
    std::unordered_map<std::string, std::set<int>> index;
    for (const auto &[k, v] : groups) index[k.substr(0, 4)].insert(v.begin(), v.end());
    std::ostringstream text;
    for (const auto &[k, s] : index) text << k << ':' << s.size() << ' ';
    std::regex digits("[0-9]+");
    std::string str = text.str();
    long sum = 0;
    for (auto it = std::sregex_iterator(str.begin(), str.end(), digits); it != std::sregex_iterator(); ++it)
        sum += std::stol(it->str());
    auto shared = std::make_shared<std::vector<long>>(1000, sum);
    std::cout << groups.size() << ' ' << index.size() << ' ' << sum << ' '
              << std::accumulate(shared->begin(), shared->end(), 0L) << '\n';
}
