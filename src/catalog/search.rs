//! Ranking actions by how well they answer a query in people's words
//! (`runner actions --query "add webhook"`): words are stemmed (webhooks ~
//! webhook), widened by [`SYNONYMS`] (add ~ create, PR ~ pull request), and
//! weighed by where they occur (name and summary over path and the rest of
//! the description) and how rare they are in the catalog. Only actions that
//! answer as many of the query's words as any action does are kept.
//! Pure: the catalog gives it text, it gives back positions and scores.

use std::collections::{HashMap, HashSet};

use rust_stemmers::{Algorithm, Stemmer};

use super::synonyms::{SHORT_FORMS, STOPWORDS, SYNONYMS};

/// The text of one action that a query is matched against.
#[derive(Debug, Default, Clone)]
pub(crate) struct Fields {
    /// Its name and aliases (`GITHUB_ISSUES_CREATE`).
    pub names: String,
    /// The first line of its description.
    pub summary: String,
    /// The rest of its description.
    pub description: String,
    /// Its path; placeholders are left out.
    pub path: String,
    /// Its `keywords`.
    pub keywords: String,
}

/// How much a word counts, by the field it occurs in.
const WEIGHTS: Weights = Weights {
    names: 2.0,
    summary: 2.0,
    keywords: 2.0,
    path: 1.0,
    description: 0.5,
};

struct Weights {
    names: f64,
    summary: f64,
    keywords: f64,
    path: f64,
    description: f64,
}

/// A word written in an inflected form, found so in the summary, counts a
/// little more (`webhooks` prefers "List repository webhooks").
const SAME_FORM_BONUS: f64 = 0.1;
/// What each word of an action's summary that the query does not ask
/// for costs: of "Delete a repository" and "Delete a repository secret",
/// `delete repo` means the first.
const UNASKED_PENALTY: f64 = 0.3;

/// One action's words, stemmed, with the weight of the best field each is
/// in; the words of its summary as written, and their stems.
struct Doc {
    stems: HashMap<String, f64>,
    forms: HashSet<String>,
    summary: Vec<String>,
}

/// The actions of a catalog, ready to be searched.
pub(crate) struct Index {
    stemmer: Stemmer,
    docs: Vec<Doc>,
    /// How many actions hold each stem.
    df: HashMap<String, usize>,
}

/// Words of `text`, lower-cased: runs of letters and digits; short forms
/// (`repo`) in their long form (`repository`).
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .flat_map(|w| {
            let long = SHORT_FORMS.iter().find(|(short, _)| *short == w);
            match long {
                Some((_, long)) => long.split(' ').map(str::to_string).collect(),
                None => vec![w],
            }
        })
}

fn is_stopword(word: &str) -> bool {
    STOPWORDS.contains(&word)
}

/// `path` without its `{placeholders}`.
fn literal_path(path: &str) -> String {
    path.split('/')
        .filter(|s| !s.starts_with('{'))
        .collect::<Vec<_>>()
        .join(" ")
}

/// One word of a query and what else it may be found as: each
/// alternative is a phrase of stems that must all occur.
struct Term {
    form: String,
    alternatives: Vec<Vec<String>>,
}

impl Index {
    pub(crate) fn new(fields: impl IntoIterator<Item = Fields>) -> Index {
        let stemmer = Stemmer::create(Algorithm::English);
        let mut docs = Vec::new();
        let mut df: HashMap<String, usize> = HashMap::new();
        for f in fields {
            let mut stems: HashMap<String, f64> = HashMap::new();
            let path = literal_path(&f.path);
            let weighted = [
                (&f.names, WEIGHTS.names),
                (&f.summary, WEIGHTS.summary),
                (&f.keywords, WEIGHTS.keywords),
                (&path, WEIGHTS.path),
                (&f.description, WEIGHTS.description),
            ];
            for (text, weight) in weighted {
                for w in words(text) {
                    let stem = stemmer.stem(&w).into_owned();
                    let best = stems.entry(stem).or_insert(0.0);
                    *best = best.max(weight);
                }
            }
            let forms: HashSet<String> = words(&f.summary).collect();
            let summary = words(&f.summary)
                .filter(|w| !is_stopword(w))
                .map(|w| stemmer.stem(&w).into_owned())
                .collect();
            for stem in stems.keys() {
                *df.entry(stem.clone()).or_default() += 1;
            }
            docs.push(Doc {
                stems,
                forms,
                summary,
            });
        }
        Index { stemmer, docs, df }
    }

    fn stem(&self, word: &str) -> String {
        self.stemmer.stem(word).into_owned()
    }

    /// The query's words that say something, each with its synonyms.
    fn terms(&self, query: &str) -> Vec<Term> {
        words(query)
            .filter(|w| !is_stopword(w))
            .map(|w| {
                let mut alternatives = vec![vec![self.stem(&w)]];
                for (word, instead) in SYNONYMS {
                    if *word == w {
                        alternatives.extend(
                            instead
                                .iter()
                                .map(|phrase| words(phrase).map(|p| self.stem(&p)).collect()),
                        );
                    }
                }
                Term {
                    form: w,
                    alternatives,
                }
            })
            .collect()
    }

    /// How rare a stem is: rarer words tell actions apart.
    fn idf(&self, stem: &str) -> f64 {
        let n = self.docs.len() as f64;
        let df = self.df.get(stem).copied().unwrap_or(0) as f64;
        (1.0 + n / (1.0 + df)).ln()
    }

    /// How well `doc` answers `term`: its best alternative, 0 if none.
    fn term_score(&self, doc: &Doc, term: &Term) -> f64 {
        let best = term
            .alternatives
            .iter()
            .filter_map(|phrase| {
                let weights: Option<Vec<f64>> = phrase
                    .iter()
                    .map(|s| doc.stems.get(s).map(|w| w * self.idf(s)))
                    .collect();
                weights.map(|w| w.iter().sum::<f64>() / w.len().max(1) as f64)
            })
            .fold(0.0, f64::max);
        let inflected = term.alternatives[0][0] != term.form;
        if best > 0.0 && inflected && doc.forms.contains(&term.form) {
            best * (1.0 + SAME_FORM_BONUS)
        } else {
            best
        }
    }

    /// The actions that answer `query`, best first: (position, score).
    /// Only those answering as many of its words as any action does.
    pub(crate) fn rank(&self, query: &str) -> Vec<(usize, f64)> {
        let terms = self.terms(query);
        if terms.is_empty() {
            return Vec::new();
        }
        let asked: HashSet<&str> = terms
            .iter()
            .flat_map(|t| t.alternatives.iter().flatten())
            .map(String::as_str)
            .collect();
        let scored: Vec<(usize, usize, f64)> = self
            .docs
            .iter()
            .enumerate()
            .filter_map(|(i, doc)| {
                let scores: Vec<f64> = terms.iter().map(|t| self.term_score(doc, t)).collect();
                let answered = scores.iter().filter(|s| **s > 0.0).count();
                (answered > 0).then(|| {
                    let unasked = doc
                        .summary
                        .iter()
                        .filter(|s| !asked.contains(s.as_str()))
                        .count();
                    let score = scores.iter().sum::<f64>() - UNASKED_PENALTY * unasked as f64;
                    (i, answered, score)
                })
            })
            .collect();
        let most = scored.iter().map(|s| s.1).max().unwrap_or(0);
        let mut out: Vec<(usize, f64)> = scored
            .into_iter()
            .filter(|s| s.1 == most)
            .map(|(i, _, score)| (i, score))
            .collect();
        // Ties keep the catalog's order.
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        out
    }

    /// When nothing answers `query`: the actions that answer it with each
    /// word replaced by the catalog's nearest word (a misspelling), best
    /// first, at most `n`.
    pub(crate) fn nearest(&self, query: &str, n: usize) -> Vec<usize> {
        let corrected: Vec<String> = words(query)
            .filter(|w| !is_stopword(w))
            .filter_map(|w| {
                let stem = self.stem(&w);
                self.df
                    .keys()
                    .map(|k| (strsim::normalized_damerau_levenshtein(&stem, k), k))
                    .filter(|(similarity, _)| *similarity >= 0.6)
                    .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(a.1)))
                    .map(|(_, k)| k.clone())
            })
            .collect();
        self.rank(&corrected.join(" "))
            .into_iter()
            .take(n)
            .map(|(i, _)| i)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(names: &str, summary: &str, path: &str, keywords: &str) -> Fields {
        Fields {
            names: names.into(),
            summary: summary.into(),
            path: path.into(),
            keywords: keywords.into(),
            ..Fields::default()
        }
    }

    fn index() -> Index {
        Index::new([
            doc(
                "REPOS_CREATE_WEBHOOK",
                "Create a repository webhook",
                "/repos/{owner}/{repo}/hooks",
                "",
            ),
            doc(
                "REPOS_LIST_WEBHOOKS",
                "List repository webhooks",
                "/repos/{owner}/{repo}/hooks",
                "",
            ),
            doc(
                "ISSUES_CREATE_COMMENT",
                "Create an issue comment",
                "/repos/{owner}/{repo}/issues/{issue_number}/comments",
                "pull request",
            ),
            doc(
                "PULLS_CREATE_REVIEW_COMMENT_REPLY",
                "Create a reply for a review comment of a pull request, on a pull request's thread",
                "/repos/{owner}/{repo}/pulls/{pull_number}/comments/{comment_id}/replies",
                "",
            ),
            doc(
                "PULLS_CREATE",
                "Create a pull request",
                "/repos/{owner}/{repo}/pulls",
                "",
            ),
        ])
    }

    fn names(index: &Index, query: &str) -> Vec<usize> {
        index.rank(query).into_iter().map(|(i, _)| i).collect()
    }

    #[test]
    fn stems_and_synonyms_widen_a_word() {
        let index = index();
        assert_eq!(names(&index, "add webhook")[0], 0);
        assert_eq!(names(&index, "new repo hook")[0], 0);
        assert_eq!(names(&index, "webhooks")[..2], [1, 0]);
        assert_eq!(names(&index, "open a PR")[0], 4);
    }

    #[test]
    fn short_forms_in_a_catalog_read_as_long_forms() {
        let index = Index::new([
            doc(
                "REPOS_CREATE_FORK",
                "Create a fork",
                "/repos/{owner}/{repo}/forks",
                "",
            ),
            doc("GISTS_FORK", "Fork a gist", "/gists/{gist_id}/forks", ""),
        ]);
        assert_eq!(names(&index, "fork a repository"), [0]);
    }

    #[test]
    fn keywords_count_and_shorter_answers_come_first() {
        let index = index();
        assert_eq!(names(&index, "comment on pull request")[0], 2);
    }

    #[test]
    fn only_the_actions_answering_most_words_are_kept() {
        let index = index();
        let mut both = names(&index, "webhook comment");
        both.sort();
        assert_eq!(both, [0, 1, 2, 3]);
        assert_eq!(names(&index, "delete webhook").len(), 2);
        assert!(names(&index, "the").is_empty());
        assert!(names(&index, "zebra").is_empty());
    }

    #[test]
    fn nearest_corrects_misspelt_words() {
        let index = index();
        assert!(names(&index, "webhok").is_empty());
        assert_eq!(index.nearest("craete webhok", 1), [0]);
    }
}
