#!/usr/bin/perl
# A text-processing perl workload for recording: it writes its own corpus (fixed
# seed), then splits, counts, matches, sorts and formats it. Deterministic.
use strict;
use warnings;

srand(1);
my @syllables = qw(ka to ri mu sen da lo pe qui zan or el in ath um);
my @lines;
for my $n (1 .. 25000) {
    my @words = map { join '', map { $syllables[int rand @syllables] } 1 .. 1 + int rand 4 } 1 .. 3 + int rand 12;
    push @lines, join(' ', @words) . ($n % 5 ? '.' : '!');
}

my (%count, %by_length, %bigrams);
for my $line (@lines) {
    my @words = split /\s+/, lc $line;
    s/[.!]$// for @words;
    $count{$_}++ for @words;
    push @{ $by_length{ length $_ } }, $_ for @words;
    $bigrams{"$words[$_] $words[$_ + 1]"}++ for 0 .. $#words - 1;
}

my @top = (sort { $count{$b} <=> $count{$a} || $a cmp $b } keys %count)[0 .. 9];
my $vowelly = grep { /^(?:[aeiou][^aeiou]?){3,}$/ } keys %count;
my %uniq_by_length = map { $_ => scalar keys %{ { map { $_ => 1 } @{ $by_length{$_} } } } } keys %by_length;
my $text = join "\n", @lines;
(my $shout = $text) =~ s/(\w+)!/\U$1\E!/g;
my @sentences = split /(?<=[.!])\n/, $shout;

printf "%d lines, %d words, %d bigrams, %d vowelly, %d sentences\n",
    scalar @lines, scalar keys %count, scalar keys %bigrams, $vowelly, scalar @sentences;
printf "%-12s %d\n", $_, $count{$_} for @top;
printf "length %2d: %d distinct\n", $_, $uniq_by_length{$_} for sort { $a <=> $b } keys %uniq_by_length;
