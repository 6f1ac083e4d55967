# Perl workload of bench_realprog: text generated from a fixed seed, split into
# words, counted in hashes, rewritten with regular expressions, sorted and
# joined. Deterministic output.
use strict;
use warnings;

my @syllables = qw(ar en a blo ck chu nk sl ab pa ge re gi on he ap bi n sp an se gm);
my $state = 12345;
sub next_random { $state = ($state * 1103515245 + 12345) % 2147483648; return $state; }

my (%count, %by_length, @lines);
for my $line_number (1 .. 60000) {
    my @words;
    for (1 .. 6 + next_random() % 10) {
        my $word = join '', map { $syllables[next_random() % @syllables] } 1 .. 1 + next_random() % 4;
        push @words, $word;
        $count{$word}++;
        push @{ $by_length{ length $word } }, $word;
    }
    my $line = join ' ', @words;
    $line =~ s/\b(\w)(\w*)\b/\u$1$2/g if $line_number % 3 == 0;
    $line =~ s/(an|ap)+/<$1>/g;
    push @lines, $line;
}
my @top = (sort { $count{$b} <=> $count{$a} || $a cmp $b } keys %count)[0 .. 9];
print "distinct words: ", scalar(keys %count), "\n";
print "top: @top\n";
for my $length (sort { $a <=> $b } keys %by_length) {
    my %seen = map { $_ => 1 } @{ $by_length{$length} };
    printf "length %2d: %d words, %d distinct\n", $length, scalar @{ $by_length{$length} }, scalar keys %seen;
}
my @sorted = sort @lines;
my $joined = join "\n", @sorted[0 .. 999];
print "bytes of the first 1000 sorted lines: ", length($joined), "\n";
my $total = 0;
$total += length for @lines;
print "total bytes: $total\n";
